//! Pieces shared by both libraries' C boundaries.

pub mod guard;
pub mod list;
