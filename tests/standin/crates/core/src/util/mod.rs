// SPDX-License-Identifier: MIT
pub mod jobs;
