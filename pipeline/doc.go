// Package pipeline is the watermill router between the connectors and the core. It runs on
// the bus of package pipeline/bus (embedded NATS JetStream by default, an external NATS
// JetStream, or memory for unit tests).
//
// Connectors publish raw envelopes to raw.<connector>; the normalize.<connector> handler
// turns each into drafts on the drafts topic; the intake handler hands each draft to the
// core. Every handler is retried with back-off; what still fails, or cannot succeed, becomes a
// dead letter that an operator can replay. A message is acked only after what it produced is
// durable: drafts on the bus, a ticket in the store, or a dead letter. The pipeline must never
// import core/: the core is reached through IntakeFunc.
package pipeline
