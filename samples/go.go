// Sends one example event to the eventward notification {{workspace}}/{{notification}} with net/http.
// Run: {{env_var}}=... go run sample.go
// {{credential_note}}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

const (
	endpoint = "{{url}}"
	envVar   = "{{env_var}}"
)

func main() {
	os.Exit(run())
}

func run() int {
	credential := os.Getenv(envVar)
	if credential == "" {
		fmt.Fprintf(os.Stderr, "error: set %s to {{credential_kind}}\n", envVar)
		return 2
	}

	event, err := json.Marshal(map[string]any{"example": true, "sent_by": "go sample"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(event))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+credential)

	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: request to %s failed: %v\n", endpoint, err)
		return 1
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: reading the response: %v\n", err)
		return 1
	}

	// 202: {"id", "status"}; refusals: application/problem+json {title, status, detail, code}.
	var body struct {
		ID     string `json:"id"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	isJSON := json.Unmarshal(raw, &body) == nil

	if resp.StatusCode >= 200 && resp.StatusCode < 300 && isJSON && body.ID != "" {
		fmt.Println(body.ID)
		return 0
	}
	if isJSON && body.Code != "" {
		fmt.Fprintf(os.Stderr, "%s: %s\n", body.Code, body.Detail)
		return 1
	}
	if len(raw) > 500 {
		raw = raw[:500]
	}
	fmt.Fprintf(os.Stderr, "error: HTTP %d: %s\n", resp.StatusCode, raw)
	return 1
}
