package infra_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// compose is the part of a Compose file this test reads.
type compose struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Command     []string `yaml:"command"`
		Ports       []string `yaml:"ports"`
		Volumes     []string `yaml:"volumes"`
		Healthcheck *struct {
			Test     []string `yaml:"test"`
			Interval string   `yaml:"interval"`
			Retries  int      `yaml:"retries"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestDockerCompose: Docker cannot run here, so the file users run with
// `make local` is checked by parsing: PostgreSQL 16 and Redis 7 with
// append-only files, health checks, named volumes, and the ports the
// tests and the runner expect.
func TestDockerCompose(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	want := map[string]struct{ image, port, healthCmd string }{
		"postgres": {"postgres:16", "127.0.0.1:5432:5432", "pg_isready"},
		"redis":    {"redis:7", "127.0.0.1:6379:6379", "redis-cli"},
	}
	for name, w := range want {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if s.Image != w.image {
			t.Errorf("%s image = %q, want %q", name, s.Image, w.image)
		}
		if !slices.Contains(s.Ports, w.port) {
			t.Errorf("%s ports = %v, want %s", name, s.Ports, w.port)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), w.healthCmd) || s.Healthcheck.Retries == 0 {
			t.Errorf("%s health check = %+v, want one running %s", name, s.Healthcheck, w.healthCmd)
		}
		if len(s.Volumes) == 0 {
			t.Errorf("%s has no volume: its data would not survive a restart", name)
		}
		for _, v := range s.Volumes {
			vol, _, _ := strings.Cut(v, ":")
			if _, ok := c.Volumes[vol]; !ok {
				t.Errorf("%s mounts %q, which is not a named volume", name, vol)
			}
		}
	}
	if cmd := strings.Join(c.Services["redis"].Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q does not turn the append-only file on", cmd)
	}
}
