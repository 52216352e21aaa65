//! enrollment
