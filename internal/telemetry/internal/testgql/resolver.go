package testgql

import (
	"context"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// NewSchema returns the executable schema with its resolvers.
func NewSchema() graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{}})
}

// Resolver implements ResolverRoot.
type Resolver struct{}

// Book returns the resolvers of Book.
func (r *Resolver) Book() BookResolver { return bookResolver{} }

// Mutation returns the resolvers of Mutation.
func (r *Resolver) Mutation() MutationResolver { return mutationResolver{} }

// Query returns the resolvers of Query.
func (r *Resolver) Query() QueryResolver { return queryResolver{} }

// Subscription returns the resolvers of Subscription.
func (r *Resolver) Subscription() SubscriptionResolver { return subscriptionResolver{} }

type bookResolver struct{}

func (bookResolver) Author(_ context.Context, obj *Book) (*Author, error) {
	return &Author{Name: "Author of " + obj.Title}, nil
}

type mutationResolver struct{}

func (mutationResolver) Echo(_ context.Context, text string) (string, error) {
	return text, nil
}

type queryResolver struct{}

func (queryResolver) Hello(_ context.Context, name *string) (string, error) {
	if name == nil {
		return "hello", nil
	}
	return "hello " + *name, nil
}

func (queryResolver) Books(_ context.Context, n int) ([]*Book, error) {
	books := make([]*Book, n)
	for i := range books {
		id := strconv.Itoa(i + 1)
		books[i] = &Book{ID: id, Title: "Book " + id}
	}
	return books, nil
}

// Fail returns an error whose extensions.code is the given code, so that
// tests can check how codes become metric labels.
func (queryResolver) Fail(_ context.Context, code string) (*string, error) {
	return nil, &gqlerror.Error{
		Message:    "failed on purpose",
		Extensions: map[string]any{"code": code},
	}
}

type subscriptionResolver struct{}

// Ticks sends 1..n, one every intervalMs milliseconds, then closes the
// channel; it stops early when the subscription's context ends.
func (subscriptionResolver) Ticks(ctx context.Context, n int, intervalMs int) (<-chan int, error) {
	if intervalMs < 1 {
		intervalMs = 1
	}
	ch := make(chan int)
	go func() {
		defer close(ch)
		ticker := time.NewTicker(time.Duration(intervalMs) * time.Millisecond)
		defer ticker.Stop()
		for i := 1; i <= n; i++ {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			select {
			case <-ctx.Done():
				return
			case ch <- i:
			}
		}
	}()
	return ch, nil
}
