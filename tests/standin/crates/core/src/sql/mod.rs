// SPDX-License-Identifier: MIT
pub mod ast;
pub mod execute;
