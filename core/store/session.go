package store

import (
	"context"
	"time"

	"gongdan/core/ticket"
)

// Session is a signed-in console session as the store keeps it: only the SHA-256 of the
// cookie's secret, so a copy of the database signs nobody in.
type Session struct {
	Hash  []byte
	Actor ticket.Actor
	// Name is who signed in, for the page's header (the actor id when nothing better is known).
	Name string
	// Via is how they signed in: "token" or "wecom".
	Via string
	// CSRF is the session's form token, sent back with every form and every htmx request.
	CSRF      string
	CreatedAt time.Time
	SeenAt    time.Time
}

// View is a queue filter a console user saved under a name.
type View struct {
	Owner string // the actor id
	Name  string
	Query string // the queue's URL query
}

// ConsoleStore keeps the console's sessions and saved views, so that every process on the
// store knows them.
type ConsoleStore interface {
	// PutSession keeps a new session.
	PutSession(ctx context.Context, s Session) error
	// SessionByHash finds the session of a cookie's SHA-256, or ErrNotFound.
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	// TouchSession records that the session was used at at.
	TouchSession(ctx context.Context, hash []byte, at time.Time) error
	// DeleteSession ends a session (no error when there is none).
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteSessionsBefore ends sessions last seen before idle or made before created, and
	// says how many.
	DeleteSessionsBefore(ctx context.Context, idle, created time.Time) (int64, error)
	// PutView keeps (or replaces) a saved view; DeleteView removes one (no error when absent).
	PutView(ctx context.Context, v View) error
	DeleteView(ctx context.Context, owner, name string) error
	// Views lists an owner's saved views by name.
	Views(ctx context.Context, owner string) ([]View, error)
}
