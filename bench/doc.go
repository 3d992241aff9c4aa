// Package bench is Curbside's benchmark harness: it measures accepted and
// delivered throughput at saturation, sender-to-recipient latency at fixed
// offered rates (open loop), server memory per idle relay connection, cold
// start time and binary size, and runs the same 1:1 load against
// nats-server over WebSocket as a non-durable reference.
//
// Everything targets 127.0.0.1 only. Every load loop is bounded in count
// (envelopes are sealed before the timed window, so a run cannot send more
// than it sealed) and in time (each phase has a fixed duration).
//
// The identities a scenario needs are written straight into a fresh data
// directory through package store before the server starts (Seed): users,
// sessions whose tokens the harness knows, and devices registered with
// properly signed device lists. That is what a login followed by a device
// registration leaves in the database, without paying argon2id per device
// or the login rate limit.
//
// The command bench/cmd/curbside-bench runs every scenario and writes the
// results as a markdown table; docs/BENCHMARKS.md explains the method and
// quotes a run. The Benchmark functions in this package's tests measure
// pieces in process (the store's Accept, sealing, the whole relay path) and
// are the place to take CPU profiles.
package bench
