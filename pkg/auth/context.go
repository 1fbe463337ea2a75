package auth

import "context"

// Client describes who sent the current request; the HTTP layer puts it in
// the context so that audit events can say where an action came from.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the request's client, or a zero Client.
func ClientFromContext(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
