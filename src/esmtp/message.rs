//! The mail a session carries: messages, their recipients, ETRN nodes, and
//! the statuses the server's replies leave in them.
//!
//! C code holds raw pointers to these objects and may call the API from
//! inside callbacks while the protocol engine runs, so every field that the
//! API can change is a `Cell`/`RefCell` and the engine only ever holds
//! shared references. Objects are boxed in [`FrozenList`]s and never move.

use std::cell::{Cell, RefCell};
use std::ffi::CString;

use super::appdata::AppData;
use super::headers::HeaderTable;
use super::source::MessageSource;
use super::status::StatusCell;
use crate::common::list::FrozenList;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DsnRet {
    #[default]
    NotSet,
    Full,
    Hdrs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    NotSet,
    SevenBit,
    EightBitMime,
    BinaryMime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ByMode {
    #[default]
    NotSet,
    Notify,
    Return,
}

#[derive(Default)]
pub struct Message {
    pub app_data: AppData,
    pub recipients: FrozenList<Recipient>,
    pub reverse_path: RefCell<Option<CString>>,
    pub source: RefCell<Option<Box<dyn MessageSource>>>,
    pub headers: RefCell<HeaderTable>,
    pub reverse_path_status: StatusCell,
    pub message_status: StatusCell,
    pub dsn_ret: Cell<DsnRet>,
    pub dsn_envid: RefCell<Option<CString>>,
    pub size_estimate: Cell<u64>,
    pub body: Cell<Body>,
    pub by_time: Cell<i64>,
    pub by_mode: Cell<ByMode>,
    pub by_trace: Cell<bool>,
}

impl Message {
    pub fn has_pending(&self) -> bool {
        self.recipients.iter().any(|r| !r.complete.get())
    }

    pub fn wants_dsn(&self) -> bool {
        self.dsn_ret.get() != DsnRet::NotSet
            || self.dsn_envid.borrow().is_some()
            || self.recipients.iter().any(|r| r.dsn_notify.get() != 0 || r.dsn_orcpt.borrow().is_some())
    }
}

pub struct Recipient {
    pub app_data: AppData,
    pub mailbox: CString,
    pub status: StatusCell,
    pub complete: Cell<bool>,
    /// `enum notify_flags` bits; -1 is NEVER, 0 not set.
    pub dsn_notify: Cell<i32>,
    /// ORCPT address type and address.
    pub dsn_orcpt: RefCell<Option<(CString, CString)>>,
}

impl Recipient {
    pub fn new(mailbox: CString) -> Recipient {
        Recipient {
            app_data: AppData::default(),
            mailbox,
            status: StatusCell::default(),
            complete: Cell::new(false),
            dsn_notify: Cell::new(0),
            dsn_orcpt: RefCell::new(None),
        }
    }
}

pub struct EtrnNode {
    pub app_data: AppData,
    /// 0 or `'@'`.
    pub option: i32,
    pub domain: CString,
    pub status: StatusCell,
}
