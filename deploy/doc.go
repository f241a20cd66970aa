// Package deploy holds what it takes to run storybot for real: the container
// image (Dockerfile), the compose stack of one host (nginx with TLS, two
// replicas, Postgres, Logstash, Elasticsearch, Kibana, Prometheus and
// Grafana) and the Kubernetes manifests (k8s/). README.md says how to use
// them.
//
// The package has no code of its own. Its tests check every file here
// against the real thing: a storybot binary built from this repository, run
// as two replicas on Postgres behind the real nginx configuration, scraped
// by a real Prometheus that evaluates the alert rules and every dashboard
// query, and the Debian tools promtool and docker-compose.
package deploy
