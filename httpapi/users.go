package httpapi

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Each handler copies what it needs out of the RequestCtx (strings, ints,
// the UUID array), calls the engine under its own deadline, and writes the
// answer before returning; nothing it starts keeps the ctx or its buffers.

const (
	defaultListLimit = 10
	maxListLimit     = 1000
)

var (
	headerLocation  = []byte("Location")
	headerNextState = []byte("X-Next-Page-State")
	headerLink      = []byte("Link")
)

// writeUser answers one user.
func writeUser(ctx *fasthttp.RequestCtx, status int, u *engine.User) {
	b := acquireBuf()
	b.B = appendUser(b.B, u)
	writeJSON(ctx, status, b.B)
	releaseBuf(b)
}

// detailInvalidUUID is what GET /users/{id} answers for a malformed id: the
// original's text for that route, which its clients read. PUT, PATCH and
// DELETE answer detailInvalidID, as the original does.
const detailInvalidUUID = "Invalid UUID"

// pathID parses the {user_id} segment; a malformed one is a 400 with detail.
// Validation of the id comes after the header and body, matching FastAPI,
// where the id is checked in the handler.
// The segment is read from the decoded, normalised path, so that a
// percent-encoded id means the same as a plain one; for the canonical paths
// the fast path in serve takes, both forms are the same bytes.
func pathID(ctx *fasthttp.RequestCtx, detail string) (engine.UUID, bool) {
	p := ctx.Request.URI().Path()
	var seg []byte
	if len(p) > len(usersPrefix) {
		seg = p[len(usersPrefix):]
	}
	id, err := engine.ParseUUIDBytes(seg)
	if err != nil {
		writeDetail(ctx, fasthttp.StatusBadRequest, detail)
		return id, false
	}
	return id, true
}

func (s *Server) createUser(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.RequestTimeout, &errs)
	body := ctx.PostBody()
	var in engine.NewUser
	if i, ok := parseBody(body, &errs); ok {
		in = decodeNewUser(body, i, []any{"body"}, &errs)
	}
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	c := deadlines.after(timeout)
	u, err := s.store.CreateUser(c, in, opt)
	if err != nil {
		s.fail(ctx, route, err)
		return
	}
	var loc [len("/users/") + 36]byte
	ctx.Response.Header.SetCanonical(headerLocation, u.ID.AppendText(append(loc[:0], "/users/"...)))
	writeUser(ctx, fasthttp.StatusCreated, &u)
}

// targetUser reads what GET and DELETE /users/{id} share: the request
// headers and the id (badID: the detail of a malformed one). When it
// returns false it has written the answer.
func (s *Server) targetUser(ctx *fasthttp.RequestCtx, badID string) (engine.UUID, engine.Options, time.Duration, bool) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.RequestTimeout, &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return engine.UUID{}, opt, timeout, false
	}
	id, ok := pathID(ctx, badID)
	return id, opt, timeout, ok
}

func (s *Server) getUser(ctx *fasthttp.RequestCtx, route string) {
	id, opt, timeout, ok := s.targetUser(ctx, detailInvalidUUID)
	if !ok {
		return
	}
	c := deadlines.after(timeout)
	u, err := s.store.GetUser(c, id, opt)
	if err != nil {
		s.fail(ctx, route, err)
		return
	}
	writeUser(ctx, fasthttp.StatusOK, &u)
}

func (s *Server) listUsers(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.RequestTimeout, &errs)
	args := ctx.QueryArgs()
	limit := queryInt(args, "limit", defaultListLimit, 1, maxListLimit, &errs)
	state := string(args.Peek("page_state"))
	if !s.validPageState(state) {
		errs.add("value_error", "Value error, malformed page_state token", "query", "page_state")
	}
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	c := deadlines.after(timeout)
	page, err := s.store.ListUsers(c, limit, state, opt)
	if err != nil {
		s.fail(ctx, route, err)
		return
	}
	if page.Next != "" {
		// The token is base64url, safe in a URL as it is.
		ctx.Response.Header.SetCanonical(headerNextState, []byte(page.Next))
		link := make([]byte, 0, len(page.Next)+48)
		link = append(link, "</users?limit="...)
		link = strconv.AppendInt(link, int64(limit), 10)
		link = append(link, "&page_state="...)
		link = append(link, page.Next...)
		link = append(link, `>; rel="next"`...)
		ctx.Response.Header.SetCanonical(headerLink, link)
	}
	b := acquireBuf()
	b.B = appendUsers(b.B, page.Users)
	writeJSON(ctx, fasthttp.StatusOK, b.B)
	releaseBuf(b)
}

// updateUser serves PUT and PATCH alike: a partial merge where absent and
// null fields keep their stored value.
func (s *Server) updateUser(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.RequestTimeout, &errs)
	body := ctx.PostBody()
	var patch engine.UserPatch
	if i, ok := parseBody(body, &errs); ok {
		patch = decodePatch(body, i, &errs)
	}
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	id, ok := pathID(ctx, detailInvalidID)
	if !ok {
		return
	}
	c := deadlines.after(timeout)
	u, err := s.store.UpdateUser(c, id, patch, opt)
	if err != nil {
		s.fail(ctx, route, err)
		return
	}
	writeUser(ctx, fasthttp.StatusOK, &u)
}

func (s *Server) deleteUser(ctx *fasthttp.RequestCtx, route string) {
	id, opt, timeout, ok := s.targetUser(ctx, detailInvalidID)
	if !ok {
		return
	}
	c := deadlines.after(timeout)
	if err := s.store.DeleteUser(c, id, opt); err != nil {
		s.fail(ctx, route, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// createUsers validates every user before writing any: one bad item is a
// 422 naming its index, and nothing is written.
func (s *Server) createUsers(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.RequestTimeout, &errs)
	in := decodeBatch(ctx.PostBody(), &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	c := deadlines.after(timeout)
	users, err := s.store.CreateUsers(c, in, opt)
	if err != nil && len(users) == 0 {
		s.fail(ctx, route, err)
		return
	}
	// On an error after some users were written, the answer is the error's
	// with the written users under "created": a client retries the rest.
	status := fasthttp.StatusCreated
	b := make([]byte, 0, 96+len(users)*200)
	b = append(b, '{')
	if err != nil {
		var detail string
		status, detail, _ = engineStatus(err)
		s.logFailure(route, status, err)
		b = append(b, `"detail":`...)
		b = appendString(b, detail)
		b = append(b, ',')
	}
	b = append(b, `"created":`...)
	b = appendUsers(b, users)
	b = append(b, '}')
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.Response.SetBodyRaw(b) // b is ours alone and never reused
}
