package llm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/storybot/storybot/internal/llm"
)

func ExampleStoryteller() {
	teller := &llm.Storyteller{} // the zero value streams without pacing
	var story strings.Builder
	res, err := teller.Generate(context.Background(),
		llm.Request{Prompt: "a lighthouse keeper who befriends a whale", Seed: 1, MaxTokens: 24},
		func(delta string) { story.WriteString(delta) })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(story.String())
	fmt.Println(res.Model, res.FinishReason, res.CompletionTokens)
	// Output:
	// The summer Hana turned thirty, the lighthouse keeper arrived in the mountain village of Hollin, and nothing there was quite the same again. People
	// storyteller length 24
}

func ExampleNewOpenAI() {
	// A local Ollama server; any server that speaks OpenAI's Chat
	// Completions works the same way.
	gen, err := llm.NewOpenAI(llm.OpenAIConfig{
		BaseURL:           "http://localhost:11434/v1",
		Model:             "llama3.2",
		FirstTokenTimeout: 3 * time.Minute, // a cold model takes a while to load
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gen.CloseIdleConnections()

	var story strings.Builder
	res, err := gen.Generate(context.Background(),
		llm.Request{Prompt: "a lighthouse keeper who befriends a whale", TraceID: "4bf92f3577b34da6"},
		func(delta string) { story.WriteString(delta) })
	switch {
	case errors.Is(err, llm.ErrUnavailable):
		log.Printf("no model server: %v", err)
	case err != nil:
		log.Printf("story failed after %d characters: %v", story.Len(), err)
	default:
		log.Printf("%s wrote %d tokens (%s)", res.Model, res.CompletionTokens, res.FinishReason)
	}
}
