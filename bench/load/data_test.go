package load

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodiesAreValidAndVaried(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for i := range 2000 {
		b := appendUserJSON(nil, r)
		var u struct {
			Name  string `json:"name"`
			Email string `json:"email"`
			Age   *int   `json:"age"`
		}
		require.NoError(t, json.Unmarshal(b, &u), "body %d: %s", i, b)
		n := utf8.RuneCountInString(u.Name)
		assert.True(t, n >= 1 && n <= 100, "name length %d: %q", n, u.Name)
		require.NotNil(t, u.Age, "age present: %s", b)
		assert.True(t, *u.Age >= 0 && *u.Age <= 150, "age %d", *u.Age)
		local, domain, ok := strings.Cut(u.Email, "@")
		assert.True(t, ok && local != "" && strings.Contains(domain, "example."), "email %q", u.Email)
		seen[string(b)] = true
	}
	assert.Greater(t, len(seen), 1990, "bodies differ from one another")
}

func TestBatchAndUpdateBodies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var batch struct {
		Users []map[string]any `json:"users"`
	}
	require.NoError(t, json.Unmarshal(appendBatchJSON(nil, r, 25), &batch))
	assert.Len(t, batch.Users, 25, "users in a batch")
	shapes := map[string]bool{}
	for range 500 {
		var u map[string]any
		b := appendUpdateJSON(nil, r)
		require.NoError(t, json.Unmarshal(b, &u), "update %s", b)
		assert.NotEmpty(t, u, "an update changes something")
		keys := []string{}
		for _, k := range []string{"name", "email", "age"} {
			if _, ok := u[k]; ok {
				keys = append(keys, k)
			}
		}
		assert.Len(t, keys, len(u), "only known fields in %s", b)
		shapes[strings.Join(keys, ",")] = true
	}
	assert.Len(t, shapes, 7, "every non-empty subset of fields occurs")
}

func TestScanIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"user", `{"id":"a-1","name":"x"}`, []string{"a-1"}},
		{"batch", `{"created":[{"id":"a"},{"name":"n","id":"b"}]}`, []string{"a", "b"}},
		{"spaces", "{\"id\" :\n \"c\"}", []string{"c"}},
		{"other keys", `{"user_id":"no","idx":"no","id_":"no"}`, nil},
		{"escaped quote in a value", `{"name":"\"id\":\"fake","id":"real"}`, []string{"real"}},
		{"id not a string", `{"id":42}`, nil},
		{"truncated", `{"id":"abc`, nil},
		{"empty", ``, nil},
	} {
		assert.Equal(t, tc.want, scanIDs([]byte(tc.body), nil), tc.name)
	}
}

func FuzzScanIDs(f *testing.F) {
	f.Add([]byte(`{"created":[{"id":"a"},{"id":"b"}]}`))
	f.Add([]byte(`{"id" : "x"`))
	f.Add([]byte(`"id":"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, id := range scanIDs(body, nil) {
			if strings.Contains(id, `"`) {
				t.Fatalf("id %q holds a quote (body %q)", id, body)
			}
		}
	})
}

func TestAppendQueryEscape(t *testing.T) {
	assert.Equal(t, "AbZ09-_.~", string(appendQueryEscape(nil, []byte("AbZ09-_.~"))))
	assert.Equal(t, "a%2Bb%2F%3D%3D%20%26", string(appendQueryEscape(nil, []byte("a+b/== &"))))
}
