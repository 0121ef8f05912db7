// Package bus is the message bus under the pipeline: a watermill Publisher and
// competing-consumer Subscribers over NATS JetStream, embedded in gongdan (the default) or an
// external server or cluster, or over memory for unit tests. Open starts the one a Config
// describes; see Bus for the delivery contract.
package bus
