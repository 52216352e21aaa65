//! One router per feature; [`crate::app`] merges them.

pub mod admin;
pub mod applications;
pub mod enroll;
pub mod oid4vci;
pub mod public;
