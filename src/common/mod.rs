//! Pieces shared by both libraries' C boundaries: the panic policy, the
//! `malloc`ed strings handed to C, and an append-only list of stable
//! handles.

pub mod cstr;
pub mod guard;
pub mod list;
pub mod sync;
