//! Everything that speaks Ollama's HTTP API: where the server is (`host`), what goes over the wire
//! (`wire`, mapping the conversation's own types to Ollama's JSON), how a stream is cut into events
//! (`ndjson`), how a request body is encoded turn after turn (`body`), the HTTP client (`client`),
//! how its failures become the client's one error (`error`), and the model-management calls
//! (`manage`). Imports only the neutral types (`conversation`, `models`, `error`) and `net`.

pub mod body;
pub mod client;
pub mod error;
pub mod host;
pub mod manage;
pub mod ndjson;
pub mod reply;
pub mod wire;

pub use client::{ChatResponse, Client};
pub use manage::ProgressStream;
pub use reply::Reply;
