package engine

import "context"

// The methods below are the engine's whole surface for the HTTP layer. Each
// call takes a context whose deadline bounds the request end to end: waiting
// in the queue, waiting for a batch, and the query itself.

// CreateUser writes one user through the token-aware batcher and returns it
// with its new id and timestamps once its batch has succeeded.
func (e *Engine) CreateUser(ctx context.Context, in NewUser, opt Options) (User, error) {
	return e.createUser(ctx, in, opt)
}

// CreateUsers writes all users through the batcher; the result is in input
// order. On error some users may have been written; none is reported written.
func (e *Engine) CreateUsers(ctx context.Context, in []NewUser, opt Options) ([]User, error) {
	return e.createUsers(ctx, in, opt)
}

// GetUser reads one user; concurrent reads of one id share a query.
func (e *Engine) GetUser(ctx context.Context, id UUID, opt Options) (User, error) {
	return e.getUser(ctx, id, opt)
}

// ListUsers returns up to limit users starting at pageState ("" = start).
func (e *Engine) ListUsers(ctx context.Context, limit int, pageState string, opt Options) (Page, error) {
	return e.listUsers(ctx, limit, pageState, opt)
}

// UpdateUser merges patch into the stored user. It returns ErrNotFound when
// the user does not exist, and never re-creates a deleted user.
func (e *Engine) UpdateUser(ctx context.Context, id UUID, patch UserPatch, opt Options) (User, error) {
	return e.updateUser(ctx, id, patch, opt)
}

// DeleteUser deletes a user; deleting a missing user succeeds.
func (e *Engine) DeleteUser(ctx context.Context, id UUID, opt Options) error {
	return e.deleteUser(ctx, id, opt)
}

// StreamUsers walks the table fetchSize rows at a time, calling fn with each
// page until limit users were delivered (limit <= 0: no limit) or the table
// ends. fn must not keep the slice: it is reused for the next page. It
// returns the number of pages fetched.
func (e *Engine) StreamUsers(ctx context.Context, fetchSize, limit int, opt Options, fn func(page []User) error) (pages int, err error) {
	return e.streamUsers(ctx, fetchSize, limit, opt, fn)
}

// ProbeRead runs one `SELECT ... LIMIT 1` through the pool: the unit of work
// of the /performance endpoints.
func (e *Engine) ProbeRead(ctx context.Context) error {
	return e.probeRead(ctx)
}

// Connected reports whether the last health probe (run every second in the
// background) reached Cassandra.
func (e *Engine) Connected() bool { return e.connected.Load() }
