// SPDX-License-Identifier: MIT
//! Energy: the budget a function call may spend. The stand-in charges a
//! fixed amount per call and per host (ABI) call.

#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FunctionBudget(u64);

impl FunctionBudget {
    pub const ZERO: FunctionBudget = FunctionBudget(0);
    /// What every reducer call is given.
    pub const DEFAULT_BUDGET: FunctionBudget = FunctionBudget(1_000_000_000);

    pub const fn new(v: u64) -> Self {
        FunctionBudget(v)
    }

    pub fn get(&self) -> u64 {
        self.0
    }
}

/// Energy per reducer call and per host call.
pub const ENERGY_PER_CALL: u64 = 1_000;
pub const ENERGY_PER_HOST_CALL: u64 = 100;
