package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storybot/storybot/internal/story"
)

// Cohorts: the subscriptions of one operation (the same document,
// operation name and variables, the arguments that pick the position and
// grant access aside) to the same story share one execution per event.
//
// Each subscriber's operation runs as usual up to its resolver, which
// checks access and the cursor and joins the story's fan-out as a member of
// the cohort (story.Member.Context). The cohort itself runs the operation
// once more, its feed, whose root field is answered by the cohort's own
// channel instead of the resolver: for each story.Delivery the feed renders
// the event once, and the payload goes to every member the delivery names,
// between that member's own head (its id) and tail (its trace ID).

// streamField is the root field whose subscriptions form cohorts.
const (
	streamObject = "Subscription"
	streamField  = "storyStream"
	eventObject  = "StoryEvent"
)

// positionArgs are the arguments of streamField that do not change what
// an event renders as: where the subscriber starts, what grants it access.
var positionArgs = map[string]bool{"after": true, "shareToken": true}

// cohortKey names a cohort.
type cohortKey struct {
	query, operation, variables string
}

// cohortOf returns the key of an operation's cohort; ok is false when the
// operation is not a storyStream subscription alone. showsSeq reports
// whether its events show their seq.
func cohortOf(opCtx *graphql.OperationContext) (key cohortKey, showsSeq, ok bool) {
	op := opCtx.Operation
	if op == nil || op.Operation != ast.Subscription {
		return key, false, false
	}
	fields := graphql.CollectFields(opCtx, op.SelectionSet, []string{streamObject})
	if len(fields) != 1 || fields[0].Name != streamField {
		return key, false, false
	}
	field := fields[0]
	skip := map[string]bool{}
	for _, a := range field.Arguments {
		if positionArgs[a.Name] && a.Value != nil && a.Value.Kind == ast.Variable {
			skip[a.Value.Raw] = true
		}
	}
	vars := make(map[string]any, len(opCtx.Variables))
	for k, v := range opCtx.Variables {
		if !skip[k] {
			vars[k] = v
		}
	}
	encoded, err := json.Marshal(vars) // map keys sorted: one text per set of values
	if err != nil {
		return key, false, false
	}
	for _, f := range graphql.CollectFields(opCtx, field.Selections, []string{eventObject}) {
		if f.Name == "seq" {
			showsSeq = true
		}
	}
	return cohortKey{query: opCtx.RawQuery, operation: op.Name, variables: string(encoded)}, showsSeq, true
}

// cohorts are the cohorts of one transport.
type cohorts struct {
	mu sync.Mutex
	m  map[cohortKey]*cohort
}

func newCohorts() *cohorts { return &cohorts{m: map[cohortKey]*cohort{}} }

// cohort is one running cohort: its members and its feed.
type cohort struct {
	set      *cohorts
	key      cohortKey
	story    *story.Cohort
	showsSeq bool
	ops      map[*story.Member]*operation // guarded by set.mu
	stop     context.CancelFunc
}

// join adds op to the cohort of key, starting the cohort (and its feed,
// run with exec, params and ctx's values) if there is none, and makes
// op's member. It reports false when op has ended already.
func (cs *cohorts) join(key cohortKey, showsSeq bool, op *operation, exec graphql.GraphExecutor, params *graphql.RawParams, ctx context.Context) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.done {
		return false
	}
	c := cs.m[key]
	if c == nil {
		feedCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		c = &cohort{set: cs, key: key, story: story.NewCohort(), showsSeq: showsSeq, ops: map[*story.Member]*operation{}, stop: stop}
		cs.m[key] = c
		feed := *params
		go c.run(feedCtx, exec, &feed)
	}
	op.cohort = c
	op.member = c.story.NewMember(op.canTake, op.complete)
	c.ops[op.member] = op
	return true
}

// leave removes member m from the cohort, and stops the cohort after the
// last.
func (c *cohort) leave(m *story.Member) {
	c.set.mu.Lock()
	defer c.set.mu.Unlock()
	delete(c.ops, m)
	if len(c.ops) == 0 {
		if c.set.m[c.key] == c {
			delete(c.set.m, c.key)
		}
		c.stop()
	}
}

// run executes the cohort's feed until the cohort stops, rendering each
// delivery once for all its members.
func (c *cohort) run(ctx context.Context, exec graphql.GraphExecutor, params *graphql.RawParams) {
	ctx = graphql.StartOperationTrace(ctx)
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// Every member passed the same checks: this cannot happen but
		// through a change of the schema under a running server.
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		c.failAll(resp)
		return
	}
	events := make(chan *story.Event, 1)
	var root *graphql.FieldContext
	fieldMiddleware := opCtx.ResolverMiddleware
	opCtx.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == streamObject && fc.Field.Name == streamField {
			r := *fc // see underRoot
			root = &r
			return (<-chan *story.Event)(events), nil
		}
		return fieldMiddleware(ctx, next)
	}
	responses, ctx := exec.DispatchOperation(graphql.WithOperationContext(ctx, opCtx), opCtx)
	var targets []target
	for {
		var batch []story.Delivery
		select {
		case batch = <-c.story.Work():
		case <-ctx.Done():
			return
		}
		for _, d := range batch {
			ev := d.Event
			if c.showsSeq {
				e := *d.Event
				e.Seq = seqPlaceholder
				ev = &e
			}
			events <- ev
			resp := responses(underRoot(ctx, root))
			if resp == nil {
				c.story.Done()
				return
			}
			r := rendering{payload: sharedPayload(resp)}
			if c.showsSeq {
				r.seqAt = seqPlaceholders(r.payload)
			}
			targets = c.members(d, targets[:0])
			for _, t := range targets {
				t.op.shared(&r, t.seq, d.Last)
			}
			clear(targets)
		}
		c.story.Done()
	}
}

// target is a member's operation and the seq of its event.
type target struct {
	op  *operation
	seq int
}

// members returns the operations of d's members that are still there.
func (c *cohort) members(d story.Delivery, into []target) []target {
	c.set.mu.Lock()
	defer c.set.mu.Unlock()
	for i, m := range d.Members {
		if op := c.ops[m]; op != nil {
			into = append(into, target{op, d.Seqs[i]})
		}
	}
	return into
}

// rendering is one event rendered for a cohort.
type rendering struct {
	// payload is the response as JSON without its extensions and closing
	// brace, which each member's tail adds.
	payload []byte
	// seqAt are the offsets in payload of seqPlaceholder's digits, where
	// each member's own seq goes.
	seqAt []int
}

// Members at the same position share an event but may have had different
// numbers of events before (one joined later, one got a merged event), so
// their seq differs. An event whose selection shows seq is rendered with
// seqPlaceholder as its seq, and each member's frame puts its own number in
// the placeholder's place, the rest of the payload shared. The placeholder
// is found as a value outside every JSON string, so no text can imitate it.
const seqPlaceholder = -1999999999

var seqPlaceholderText = []byte("-1999999999")

// seqPlaceholders returns the offsets of the placeholder in payload, where
// it is a whole value outside strings.
func seqPlaceholders(payload []byte) []int {
	var at []int
	inString, escaped := false, false
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ':' && bytes.HasPrefix(payload[i+1:], seqPlaceholderText):
			end := i + 1 + len(seqPlaceholderText)
			if end < len(payload) && (payload[end] == ',' || payload[end] == '}') {
				at = append(at, i+1)
			}
		}
	}
	return at
}

// failAll fails every member with resp's errors.
func (c *cohort) failAll(resp *graphql.Response) {
	c.set.mu.Lock()
	ops := make([]*operation, 0, len(c.ops))
	for _, op := range c.ops {
		ops = append(ops, op)
	}
	c.set.mu.Unlock()
	for _, op := range ops {
		op.fail(resp)
	}
}

// sharedPayload is resp as JSON without its extensions and closing brace.
// It copies resp's data, whose buffer the next event reuses.
func sharedPayload(resp *graphql.Response) []byte {
	b := make([]byte, 0, len(resp.Data)+16)
	b = append(b, `{"data":`...)
	if len(resp.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, resp.Data...)
	}
	if len(resp.Errors) > 0 {
		errs, _ := json.Marshal(resp.Errors)
		b = append(b, `,"errors":`...)
		b = append(b, errs...)
	}
	return b
}

// runOperation runs an operation whose context was created, in a cohort when it
// can be one's member, else on its own: a query, a mutation, a story that
// has ended (whose subscription does not join), a subscription of another
// shape.
func runOperation(exec graphql.GraphExecutor, cs *cohorts, op *operation, opCtx *graphql.OperationContext, params *graphql.RawParams, connCtx context.Context) {
	ctx := graphql.WithOperationContext(op.ctx, opCtx)
	key, showsSeq, ok := cohortOf(opCtx)
	noteRoot(opCtx, &op.root)
	if !ok {
		responses, ctx := exec.DispatchOperation(ctx, opCtx)
		go op.serve(responses, ctx)
		return
	}
	if !cs.join(key, showsSeq, op, exec, params, connCtx) {
		return
	}
	responses, ctx := exec.DispatchOperation(op.member.Context(ctx), opCtx)
	if op.member.Joined() {
		op.joinCohort(ctx)
		return
	}
	op.leaveCohort()
	go op.serve(responses, ctx)
}
