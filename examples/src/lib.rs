//! Examples of kafka-utils; the programs are in `examples/`.
