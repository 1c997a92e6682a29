//! Everything that speaks Ollama's HTTP API: where the server is (`host`), what goes over the wire
//! (`wire`), how a stream is cut into events (`ndjson`), how a request body is encoded turn after
//! turn (`body`), the HTTP client (`client`) and its errors; model management: wire types
//! (`models`) and client calls (`manage`).

pub mod body;
pub mod client;
pub mod error;
pub mod host;
pub mod manage;
pub mod models;
pub mod ndjson;
pub mod wire;

pub use client::{ChatResponse, Client};
pub use error::ApiError;
pub use manage::ProgressStream;
