package llm

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxMessageRunes caps a server's error message as it is passed on.
const maxMessageRunes = 300

// serverMessage extracts the human-readable message from an error body or
// an error event, as servers that speak OpenAI's API write them:
//
//	{"error": {"message": "...", "type": "...", "code": "..."}}  OpenAI, llama.cpp, LM Studio
//	{"error": "..."}                                             Ollama
//	{"object": "error", "message": "...", "code": 400}           vLLM
//	{"detail": "..."}                                            FastAPI-based proxies
//
// Plain text is passed on; an HTML page is not. It returns "" when there is
// nothing worth showing.
func serverMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		if body[0] == '<' || body[0] == '{' || body[0] == '[' {
			return ""
		}
		return tidy(string(body))
	}
	if raw, ok := obj["error"]; ok {
		if msg := errorDetail(raw); msg != "" {
			return msg
		}
	}
	if msg := errorDetail(body); msg != "" {
		return msg
	}
	var detail string
	if json.Unmarshal(obj["detail"], &detail) == nil {
		return tidy(detail)
	}
	return ""
}

// errorDetail reads an error that is either a JSON string or an object with
// a message and, optionally, a code or type naming it.
func errorDetail(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return tidy(s)
	}
	var e struct {
		Message json.RawMessage `json:"message"`
		Code    json.RawMessage `json:"code"`
		Type    json.RawMessage `json:"type"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	var msg string
	if json.Unmarshal(e.Message, &msg) != nil {
		return ""
	}
	msg = tidy(msg)
	// A numeric code repeats the HTTP status; a string code names the error.
	name := jsonString(e.Code)
	if name == "" {
		name = jsonString(e.Type)
	}
	if name != "" && !strings.Contains(msg, name) {
		if msg == "" {
			return tidy(name)
		}
		msg += " (" + tidy(name) + ")"
	}
	return msg
}

// jsonString returns raw's value when it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	if _, err := strconv.Atoi(s); err == nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// tidy makes text from a server fit on one line of a story's error field:
// white space collapsed, control characters dropped, length capped.
func tidy(text string) string {
	var b strings.Builder
	space, n := false, 0
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == utf8.RuneError || unicode.IsControl(r):
			continue
		}
		if n == maxMessageRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
