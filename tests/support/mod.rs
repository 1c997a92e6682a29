pub mod fake_ollama;
