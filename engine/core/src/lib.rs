//! Types and traits shared by every part of dredge.
//!
//! The one idea: a read of evidence always returns bytes, plus the list of ranges
//! whose bytes were *synthesized* (zero-filled) and why. A bad sector is not an
//! error; only a source that has gone away is.
//!
//! This crate has no dependencies, no threads and no storage: parsers and carvers
//! depend on it and on nothing heavier.

mod budget;
pub mod bytes;
pub mod checksum;
mod counted;
pub mod dirqueue;
mod extent;
pub mod memory;
mod model;
pub mod plist_xml;
mod sanitize;
mod source;
pub mod time;
mod word;

pub use budget::{BudgetExceeded, UnitBudget};
pub use counted::Counted;
pub use extent::{free_past_end, Extent, ExtentSet};
pub use model::{
    Decode, Decoded, Entry, EntryKind, FileSystem, Finding, Hunt, ReadVecError, Recovery, Run,
    RunData, Timestamp, Volume, VolumeKind, VolumeReader,
};
pub use sanitize::{csv_safe, is_invisible, visible};
pub use source::{
    BlockDevice, DeviceError, Gap, ImageSource, InMemory, ReadReport, SourceError, SourceErrorKind,
    SynthRange, Why,
};
pub use word::{check_words, Word};

/// Version of dredge recorded in custody events and reports.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
