// SPDX-License-Identifier: MIT
pub mod module_subscription_actor;
pub mod module_subscription_manager;
