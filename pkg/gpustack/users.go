package gpustack

// What ListUsers relies on, from GPUStack's source:
//
//   - GET {prefix}/users (gpustack/routes/users.py, get_users) is on the
//     admin router (routes.py, get_admin_user): a key of a non-admin gets
//     403, an unknown key 401, and so does a key of a deactivated user
//     (get_current_user). An API key goes in "Authorization: Bearer"
//     (api/auth.py, get_user_from_bearer_token).
//   - It answers UsersPublic = PaginatedList[UserPublic] (schemas/users.py,
//     schemas/common.py): {"items": [...], "pagination": {"page",
//     "perPage", "total", "totalPage"}}, totalPage = ceil(total/perPage).
//     page ≥ 1 and 1 ≤ perPage ≤ 100 (ListParams), else 422.
//   - Pages are OFFSET/LIMIT over "created_at DESC" (mixins
//     paginated_by_query; older releases had no ORDER BY), counted by a
//     separate query. A user created or deleted between two pages shifts
//     the rest, so one could be skipped or seen twice: the walk refuses any
//     listing whose totals change, that repeats a username or whose pages
//     do not add up, rather than take a skipped user for a deleted one.
//   - Deleted users are gone from the list (or soft-deleted, deleted_at
//     set, and filtered out); deactivated ones stay with is_active false
//     (2.0 and later; before, there was no deactivation).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"authfn/pkg/auth"
)

const (
	// listPerPage is GPUStack's largest page (ListParams, le=100).
	listPerPage = 100
	// listMaxPages bounds a listing at 10,000 users: a GPUStack with more
	// is never re-checked (every run fails, and says so), rather than
	// read without end.
	listMaxPages = 100
	// listMaxBody bounds one page. A UserPublic is about 400 bytes, but
	// avatar_url is free text (it may be a data: URL).
	listMaxBody = 4 << 20
	// maxAPIKey bounds GPUSTACK_API_KEY (GPUStack's own are about 60 bytes).
	maxAPIKey = 1024
)

const errNoAPIKey = constError("no GPUStack API key configured")

// CheckAPIKey reports whether key can be sent as a bearer token: 1 to 1024
// printable ASCII characters without spaces. The configuration checks
// GPUSTACK_API_KEY with it; its message never repeats the key.
func CheckAPIKey(key string) error {
	if key == "" || len(key) > maxAPIKey {
		return fmt.Errorf("gpustack: API key must be 1-%d characters", maxAPIKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return errors.New("gpustack: API key must be printable ASCII without spaces")
		}
	}
	return nil
}

// ListUsers reads every user GPUStack has, page by page, with the API key
// (Options.APIKey). It returns the complete list or an error, never part
// of it: each page must be a well-formed UsersPublic of the page asked
// for, with the same total as the first, no username twice, and all
// pages together exactly total users (at most listMaxPages pages). Each
// request is bounded by Options.Timeout and the whole walk by ctx; the
// listing is one call for the circuit breaker.
//
// Every error is CodeUnavailable: no key, the circuit open, a refused key
// (401, 403), a timeout, an unexpected status, a malformed or oversized
// page, a listing that changed while it was read or is too long. Errors
// name the URL, never the key.
func (c *Client) ListUsers(ctx context.Context) ([]auth.UpstreamUser, error) {
	if c.apiKey == "" {
		return nil, auth.Unavailable(what, errNoAPIKey)
	}
	t, ok := c.breaker.allow(c.now())
	if !ok {
		return nil, auth.Unavailable(what, errCircuitOpen)
	}
	users, o, err := c.listUsers(ctx)
	if o == failed && ctx.Err() != nil {
		o = abandoned
	}
	c.breaker.done(t, o, c.now())
	if err != nil {
		return nil, auth.Unavailable(what, err)
	}
	return users, nil
}

// pagination is GPUStack's Pagination.
type pagination struct{ page, perPage, total, totalPage int }

func (c *Client) listUsers(ctx context.Context) ([]auth.UpstreamUser, outcome, error) {
	bearer := func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+c.apiKey) }
	var (
		users []auth.UpstreamUser
		seen  = map[string]bool{}
		first pagination
		path  string
	)
	for n := 1; ; n++ {
		rest := fmt.Sprintf("?page=%d&perPage=%d", n, c.perPage)
		pageCtx, cancel := context.WithTimeout(ctx, c.timeout)
		var status int
		var body []byte
		var err error
		if n == 1 {
			// The first page also finds the API prefix (and notices an upgrade).
			path, status, body, err = c.getUsersRoute(pageCtx, rest, bearer, c.maxPageBody)
			path = strings.TrimSuffix(path, rest)
		} else {
			status, body, err = c.get(pageCtx, path+rest, bearer, c.maxPageBody)
		}
		cancel()
		url := c.base + path + rest
		if err != nil {
			return nil, failed, err
		}
		switch status {
		case http.StatusOK:
		case http.StatusUnauthorized, http.StatusForbidden:
			// The server answered: it is healthy, the key is not (unknown,
			// expired, of a deactivated user, or not an admin's).
			return nil, answered, fmt.Errorf("GET %s: %d: the API key is refused (it must be an active admin's)", url, status)
		default:
			return nil, failed, fmt.Errorf("GET %s: unexpected status %d", url, status)
		}
		items, p, err := parsePage(body)
		if err != nil {
			return nil, failed, fmt.Errorf("GET %s: %w", url, err)
		}
		if n == 1 {
			first = p
			if err := c.checkFirstPage(p); err != nil {
				return nil, answered, fmt.Errorf("GET %s: %w", url, err)
			}
		}
		want := c.perPage
		if n == first.totalPage {
			want = first.total - (n-1)*c.perPage
		}
		switch {
		case p.page != n || p.perPage != c.perPage:
			return nil, answered, fmt.Errorf("GET %s: answered page %d of %d per page", url, p.page, p.perPage)
		case p.total != first.total || p.totalPage != first.totalPage:
			return nil, answered, fmt.Errorf("GET %s: total changed from %d to %d while the list was read", url, first.total, p.total)
		case len(items) != want:
			return nil, answered, fmt.Errorf("GET %s: %d users on the page, want %d", url, len(items), want)
		}
		for _, u := range items {
			if seen[u.Username] {
				return nil, answered, fmt.Errorf("GET %s: user %q listed twice (the list changed while it was read)", url, u.Username)
			}
			seen[u.Username] = true
			users = append(users, u)
		}
		if n == first.totalPage {
			return users, answered, nil
		}
	}
}

// checkFirstPage refuses a listing that cannot be complete or cannot be
// read whole.
func (c *Client) checkFirstPage(p pagination) error {
	switch {
	case p.total < 1:
		// The key's own admin is a user: an empty list is no true answer.
		return errors.New("no users listed")
	case p.totalPage != (p.total+c.perPage-1)/c.perPage:
		return fmt.Errorf("totalPage %d does not fit %d users at %d per page", p.totalPage, p.total, c.perPage)
	case p.totalPage > c.maxPages:
		return fmt.Errorf("%d users, more than the %d this client reads", p.total, c.maxPages*c.perPage)
	}
	return nil
}

// parsePage reads UsersPublic by exact key, each item as parseProfile
// reads a profile.
func parsePage(body []byte) ([]auth.UpstreamUser, pagination, error) {
	var raw struct {
		Items      *[]json.RawMessage          `json:"items"`
		Pagination *map[string]json.RawMessage `json:"pagination"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, pagination{}, errors.New("user list: not a JSON object")
	}
	for key, dst := range map[string]any{"items": &raw.Items, "pagination": &raw.Pagination} {
		v, ok := top[key]
		if !ok {
			return nil, pagination{}, fmt.Errorf("user list: no %q", key)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, pagination{}, fmt.Errorf("user list: %q: %w", key, err)
		}
	}
	if raw.Items == nil || raw.Pagination == nil {
		return nil, pagination{}, errors.New("user list: items or pagination is null")
	}
	var p pagination
	for key, dst := range map[string]*int{"page": &p.page, "perPage": &p.perPage, "total": &p.total, "totalPage": &p.totalPage} {
		v, ok := (*raw.Pagination)[key]
		if !ok {
			return nil, pagination{}, fmt.Errorf("user list: pagination has no %q", key)
		}
		if err := json.Unmarshal(v, dst); err != nil || string(v) == "null" {
			return nil, pagination{}, fmt.Errorf("user list: pagination %q is not an integer", key)
		}
	}
	users := make([]auth.UpstreamUser, 0, len(*raw.Items))
	for i, item := range *raw.Items {
		pr, err := parseProfile(item)
		if err != nil {
			return nil, pagination{}, fmt.Errorf("user list: item %d: %w", i, err)
		}
		if pr.Username == "" {
			return nil, pagination{}, fmt.Errorf("user list: item %d: empty username", i)
		}
		users = append(users, pr.UpstreamUser)
	}
	return users, p, nil
}
