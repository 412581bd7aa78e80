package naive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"github.com/gocql/gocql"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/bench/load"
)

// Config says where the baseline's data lives.
type Config struct {
	Hosts    []string
	Port     int    // default 9042
	Keyspace string // created with its users table if missing
}

type user struct {
	ID        gocql.UUID `json:"id"`
	Name      string     `json:"name"`
	Email     string     `json:"email"`
	Age       int        `json:"age"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Serve answers on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	cluster := gocql.NewCluster(cfg.Hosts...)
	if cfg.Port != 0 {
		cluster.Port = cfg.Port
	}
	cluster.Consistency = gocql.LocalQuorum
	session, err := cluster.CreateSession()
	if err != nil {
		return fmt.Errorf("naive: connect to %v: %w", cfg.Hosts, err)
	}
	defer session.Close()
	ks := cfg.Keyspace
	for _, q := range []string{
		"CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE IF NOT EXISTS " + ks + ".users (id uuid PRIMARY KEY, name text, email text, age int, created_at timestamp, updated_at timestamp)",
	} {
		if err := session.Query(q).Consistency(gocql.All).Exec(); err != nil {
			return fmt.Errorf("naive: schema: %w", err)
		}
	}
	selectCQL := "SELECT id, name, email, age, created_at, updated_at FROM " + ks + ".users WHERE id = ?"
	insertCQL := "INSERT INTO " + ks + ".users (id, name, email, age, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"

	answer := func(c *fasthttp.RequestCtx, status int, v any) {
		b, _ := json.Marshal(v)
		c.SetStatusCode(status)
		c.SetContentType("application/json")
		c.SetBody(b)
	}
	detail := func(c *fasthttp.RequestCtx, status int, msg string) {
		answer(c, status, map[string]string{"detail": msg})
	}
	handler := func(c *fasthttp.RequestCtx) {
		path, method := string(c.Path()), string(c.Method())
		switch {
		case path == "/ready":
		case path == "/users" && method == fasthttp.MethodPost:
			var in struct {
				Name  string `json:"name"`
				Email string `json:"email"`
				Age   int    `json:"age"`
			}
			if json.Unmarshal(c.PostBody(), &in) != nil || in.Name == "" || !strings.Contains(in.Email, "@") {
				detail(c, fasthttp.StatusUnprocessableEntity, "invalid user")
				return
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			u := user{ID: gocql.TimeUUID(), Name: in.Name, Email: in.Email, Age: in.Age, CreatedAt: now, UpdatedAt: now}
			if err := session.Query(insertCQL, u.ID, u.Name, u.Email, u.Age, now, now).Exec(); err != nil {
				detail(c, fasthttp.StatusServiceUnavailable, "database error")
				return
			}
			answer(c, fasthttp.StatusCreated, &u)
		case strings.HasPrefix(path, "/users/") && method == fasthttp.MethodGet:
			id, err := gocql.ParseUUID(path[len("/users/"):])
			if err != nil {
				detail(c, fasthttp.StatusBadRequest, "Invalid user ID format")
				return
			}
			var u user
			err = session.Query(selectCQL, id).Scan(&u.ID, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt)
			switch {
			case errors.Is(err, gocql.ErrNotFound):
				detail(c, fasthttp.StatusNotFound, "User not found")
			case err != nil:
				detail(c, fasthttp.StatusServiceUnavailable, "database error")
			default:
				answer(c, fasthttp.StatusOK, &u)
			}
		default:
			detail(c, fasthttp.StatusNotFound, "Not Found")
		}
	}
	return load.ServeUntil(ctx, ln, &fasthttp.Server{Handler: handler, Name: "naive"})
}
