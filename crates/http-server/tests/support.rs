//! Shared helpers: temporary directories, loopback clients, servers on ephemeral ports.
