//! The conversation's own types, which belong to no API: messages and their parts (`message`),
//! what a request asks for (`request`), what a reply stream means (`event`), and the history sent
//! on every turn (`history`). Pure data, no I/O; every API adapter maps to and from these.

pub mod event;
pub mod history;
pub mod message;
pub mod request;
pub mod tool;

pub use event::{ChatEvent, FinalStats, Remote, TurnStatus, MAX_PLAUSIBLE_TOKENS};
pub use history::{summary_note, Archived, Conversation, Mark, MessageMeta};
pub use message::{Base64, Image, Message, Role, ToolCall, ToolResultOf};
pub use request::{ChatRequest, Think};
pub use tool::{arguments_object, dotless, dotted, Approval, ToolSpec, ToolStatus};
