//! Examples of kafka-utils; the programs are in `examples/`. Their declarations and handlers
//! live here, so that the tests in `tests/` can run them with the test kit
//! (`kafka_utils::testing`) as a service's own tests would.

pub mod quickstart;
pub mod request_response;
pub mod service;
