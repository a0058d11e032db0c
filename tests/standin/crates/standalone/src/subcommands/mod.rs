// SPDX-License-Identifier: MIT
pub mod start;
