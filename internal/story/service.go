package story

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/prompt"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/storyopt"
	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/textcheck"
	"github.com/storybot/storybot/internal/viewer"
)

// Generator produces story text; internal/llm implements it.
type Generator interface {
	Generate(ctx context.Context, req llm.Request, emit func(delta string)) (llm.Result, error)
}

// Observer is told about generations, for metrics.
type Observer interface {
	StoryStarted()
	StoryFinished(outcome string, d time.Duration)
	TokensStreamed(n int)
	FirstToken(d time.Duration)
	// StoriesWritten is told of each statement that stored the text or the
	// ends of stories running here: how many, and how long it took.
	StoriesWritten(stories int, d time.Duration)
}

// Config tunes a Service. Zero fields take the defaults in parentheses.
type Config struct {
	// Owner names this replica in story leases (host name and a random suffix).
	Owner string
	// Models are the models a request may ask for; the first is the
	// default, recorded on stories that name none.
	Models []string
	// Dialect of the database (dialect.Postgres locks rows for quotas).
	Dialect string
	// DB is the connection pool behind the client. On Postgres, Run holds
	// the replica's presence lock on one of its connections, and sweeps
	// the stories of replicas that hold none (presence.go); nil to rely on
	// leases alone.
	DB *sql.DB
	// UserDailyTokens is the model tokens one user may use per day (UTC),
	// unless an admin set their own limit; 0 for no limit.
	UserDailyTokens int
	// UserMaxRunning is the stories one user may generate at once, across
	// replicas; 0 for no limit.
	UserMaxRunning int
	// DefaultMaxTokens applies when a request gives none (600).
	DefaultMaxTokens int
	// MaxMaxTokens is the most tokens a request may ask for (4096).
	MaxMaxTokens int
	// FlushInterval is the least time between two writes of a story's
	// text, and so the most time new text waits to be stored (100 ms).
	FlushInterval time.Duration
	// FlushTokens writes as soon as this many tokens wait, if FlushInterval
	// has passed since the last write (64).
	FlushTokens int
	// LeaseDuration is how long a lease lasts unless renewed (20 s). A run
	// renews it when two thirds of it are left, so a replica that is slow
	// to reach the store for a while keeps its stories. A replica that
	// died is noticed sooner on Postgres, by its presence lock (DB): its
	// stories are swept within presenceGrace plus a SweepInterval, about
	// 4 s; elsewhere, within LeaseDuration plus a SweepInterval.
	LeaseDuration time.Duration
	// SweepInterval is how often the sweeper looks for stories whose
	// replica is gone (2 s).
	SweepInterval time.Duration
	// Logger receives the service's logs.
	Logger *slog.Logger
	// Observer receives generation metrics.
	Observer Observer
	// Gate caps the generations running at once, with a bounded queue; nil
	// for no cap. A story waits PENDING for its turn; when the queue is full
	// Generate fails with ErrBusy and stores nothing.
	Gate *limits.Gate
	// Tracing makes spans of the runs, their model calls and the stories
	// followed from other replicas; nil records none.
	Tracing *telemetry.Tracing
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = fmt.Sprintf("replica-%06x", rand.Uint32()&0xffffff)
	}
	if len(c.Models) == 0 {
		c.Models = []string{llm.DefaultStorytellerModel}
	}
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = 600
	}
	if c.MaxMaxTokens <= 0 {
		c.MaxMaxTokens = 4096
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.FlushTokens <= 0 {
		c.FlushTokens = 64
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 20 * time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Service runs and streams stories. Create it with New, start its sweeper
// with Run, and stop it with Shutdown.
type Service struct {
	client *ent.Client
	gen    Generator
	broker broker.Broker
	cfg    Config
	log    *slog.Logger

	// base is the context runs derive from: detached from any request,
	// cancelled by Shutdown's deadline.
	base       context.Context
	cancelBase context.CancelFunc

	mu       sync.Mutex
	closing  bool
	runs     map[pulid.ID]*run    // generating on this replica
	remotes  map[pulid.ID]*remote // followed from other replicas
	runsDone sync.WaitGroup
	subs     sync.WaitGroup // fan-out and follower goroutines
	writes   writeQueue     // text waiting to be stored, in groups
	// titles counts the titles being asked for; titleCtx, which
	// cancelTitles ends, bounds them.
	titles       sync.WaitGroup
	titleCtx     context.Context
	cancelTitles context.CancelFunc
	// stopped is closed by Shutdown once the runs have ended: subscribers
	// still waiting (for stories of other replicas) then complete.
	stopped chan struct{}
}

// New returns a Service storing stories with client, generating them with
// gen and carrying their events between replicas with b.
func New(client *ent.Client, gen Generator, b broker.Broker, cfg Config) *Service {
	cfg.setDefaults()
	// Runs and followers are storybot's own work, on every user's stories.
	base, cancel := context.WithCancel(telemetry.ContextWithTracing(viewer.System(context.Background()), cfg.Tracing))
	titleCtx, cancelTitles := context.WithCancel(base)
	return &Service{
		client: client, gen: gen, broker: b, cfg: cfg,
		log:  cfg.Logger.With(slog.String("log.logger", "story"), slog.String("storybot.replica", cfg.Owner)),
		base: base, cancelBase: cancel,
		titleCtx: titleCtx, cancelTitles: cancelTitles,
		runs: map[pulid.ID]*run{}, remotes: map[pulid.ID]*remote{},
		stopped: make(chan struct{}),
	}
}

// Models returns the models Generate accepts, the default first.
func (s *Service) Models() []string { return s.cfg.Models }

// GenerateInput is GraphQL's GenerateStoryInput.
type GenerateInput struct {
	PromptID    pulid.ID `json:"promptID"`
	MaxTokens   *int     `json:"maxTokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	Model       *string  `json:"model,omitempty"`
	// Options override the prompt's for this story.
	Options *storyopt.Input `json:"options,omitempty"`
}

// ContinueInput is GraphQL's ContinueStoryInput.
type ContinueInput struct {
	MaxTokens   *int    `json:"maxTokens,omitempty"`
	Instruction *string `json:"instruction,omitempty"`
}

// Generate stores a new story for the input's prompt and starts generating
// it in the background, detached from ctx. It returns the story at once.
// The prompt must be the caller's; the story is theirs, and counts against
// their quotas (ErrQuotaExceeded). The story is written with the prompt's
// options, those of the input over them; an explicit maxTokens wins over
// the options' length.
func (s *Service) Generate(ctx context.Context, in GenerateInput) (*ent.Story, error) {
	maxTokens := 0
	if in.MaxTokens != nil {
		if err := s.checkMaxTokens(*in.MaxTokens); err != nil {
			return nil, err
		}
		maxTokens = *in.MaxTokens
	}
	if t := in.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return nil, invalid("temperature must be between 0 and 2, got %g", *t)
	}
	model := s.cfg.Models[0]
	if in.Model != nil {
		if !slices.Contains(s.cfg.Models, *in.Model) {
			return nil, invalid("model must be one of %s", strings.Join(s.cfg.Models, ", "))
		}
		model = *in.Model
	}
	p, err := s.prompt(ctx, in.PromptID)
	if err != nil {
		return nil, err
	}
	opts, err := p.Options.With(in.Options)
	if err != nil {
		return nil, err
	}
	if maxTokens == 0 {
		maxTokens = cmp.Or(min(opts.MaxTokens(), s.cfg.MaxMaxTokens), s.cfg.DefaultMaxTokens)
	}
	return s.launch(ctx, p, func(tx *ent.Tx) (*ent.Story, *reservation, error) {
		return s.create(ctx, tx, p, newStory{maxTokens: maxTokens, temperature: in.Temperature, model: model, options: opts})
	}, job{})
}

// Regenerate starts a new story from the prompt of one of the caller's
// stories, with its options, maxTokens, temperature and model (the default
// model when the story's is no longer offered); the old story is kept.
func (s *Service) Regenerate(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	old, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.prompt(ctx, old.PromptID)
	if err != nil {
		return nil, err
	}
	model := old.Model
	if !slices.Contains(s.cfg.Models, model) {
		model = s.cfg.Models[0]
	}
	return s.launch(ctx, p, func(tx *ent.Tx) (*ent.Story, *reservation, error) {
		return s.create(ctx, tx, p, newStory{maxTokens: min(old.MaxTokens, s.cfg.MaxMaxTokens), temperature: old.Temperature, model: model, options: old.Options})
	}, job{})
}

// maxInstructionLength is the longest instruction of a continuation, in
// characters.
const maxInstructionLength = 1000

// Continue writes more of one of the caller's finished stories: it goes
// back to PENDING, then GENERATING, with its text kept as it is and the
// new text appended, and the generator is sent the story so far with the
// input's instruction. Continuing a story that has not finished is
// ErrInvalidInput. The same limits and quotas as Generate's apply; the new
// text may have the input's maxTokens, else the story's.
func (s *Service) Continue(ctx context.Context, id pulid.ID, in *ContinueInput) (*ent.Story, error) {
	if in == nil {
		in = &ContinueInput{}
	}
	if in.MaxTokens != nil {
		if err := s.checkMaxTokens(*in.MaxTokens); err != nil {
			return nil, err
		}
	}
	var instruction string
	if in.Instruction != nil {
		instruction = strings.TrimSpace(*in.Instruction)
		if err := textcheck.Check(instruction, 0, maxInstructionLength); err != nil {
			return nil, invalid("instruction: %v", err)
		}
	}
	st, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !isTerminal(st.Status) {
		return nil, invalid("the story is still being written (%s): continue it once it has finished", st.Status)
	}
	p, err := s.prompt(ctx, st.PromptID)
	if err != nil {
		return nil, err
	}
	maxTokens := min(st.MaxTokens, s.cfg.MaxMaxTokens)
	if in.MaxTokens != nil {
		maxTokens = *in.MaxTokens
	}
	return s.launch(ctx, p, func(tx *ent.Tx) (*ent.Story, *reservation, error) {
		return s.reopen(ctx, tx, st, p, maxTokens)
	}, job{continued: true, instruction: instruction})
}

func (s *Service) checkMaxTokens(n int) error {
	if n < 1 || n > s.cfg.MaxMaxTokens {
		return invalid("maxTokens must be between 1 and %d, got %d", s.cfg.MaxMaxTokens, n)
	}
	return nil
}

// prompt returns the caller's prompt id.
func (s *Service) prompt(ctx context.Context, id pulid.ID) (*ent.Prompt, error) {
	if id.Prefix() != pulid.PromptPrefix {
		return nil, fmt.Errorf("prompt %w", ErrNotFound)
	}
	p, err := s.client.Prompt.Get(ctx, id)
	if ent.IsNotFound(err) || (err == nil && p.UserID != viewer.UserID(ctx)) {
		return nil, fmt.Errorf("prompt %w", ErrNotFound)
	}
	return p, err
}

// launch stores a story to run with store, in a transaction, and starts
// its run here, to do j for prompt p.
func (s *Service) launch(ctx context.Context, p *ent.Prompt, store func(tx *ent.Tx) (*ent.Story, *reservation, error), j job) (*ent.Story, error) {
	// Count the run before storing it, so that Shutdown waits for it; the
	// lock is not held across the insert.
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, ErrShuttingDown
	}
	s.runsDone.Add(1)
	s.mu.Unlock()
	var (
		ticket *limits.Ticket
		err    error
	)
	if s.cfg.Gate != nil {
		if ticket, err = s.cfg.Gate.Reserve(); err != nil {
			s.runsDone.Done()
			return nil, fmt.Errorf("%w: %v", ErrBusy, err)
		}
	}
	st, quota, err := s.inTx(ctx, store)
	if err != nil {
		if ticket != nil {
			ticket.Cancel()
		}
		s.runsDone.Done()
		return nil, err
	}
	j.prompt, j.quota = p.Content, quota
	r := newRun(ctx, s, st, j, ticket)
	s.mu.Lock()
	s.runs[st.ID] = r
	s.mu.Unlock()
	go r.loop()
	return st, nil
}

// inTx runs store in a transaction and commits it.
func (s *Service) inTx(ctx context.Context, store func(tx *ent.Tx) (*ent.Story, *reservation, error)) (*ent.Story, *reservation, error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	st, quota, err := store(tx)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	return st.Unwrap(), quota, nil
}

// newStory is what a new story is written with.
type newStory struct {
	maxTokens   int
	temperature *float64
	model       string
	options     storyopt.Options
}

// create stores a new PENDING story of prompt p, leased to this replica,
// with its tokens reserved from its owner's quota.
func (s *Service) create(ctx context.Context, tx *ent.Tx, p *ent.Prompt, n newStory) (*ent.Story, *reservation, error) {
	quota, err := s.reserve(ctx, tx, p.UserID, p.Content, n.maxTokens)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	st, err := tx.Story.Create().
		SetUserID(p.UserID).
		SetPromptID(p.ID).
		SetStatus(entstory.StatusPending).
		SetMaxTokens(n.maxTokens).
		SetNillableTemperature(n.temperature).
		SetModel(n.model).
		SetOptions(n.options).
		SetSeed(rand.Int64()).
		SetTraceID(telemetry.TraceIDFromContext(ctx)).
		SetLeaseOwner(s.cfg.Owner).
		SetLeaseExpiresAt(now.Add(s.cfg.LeaseDuration)).
		SetUsageDay(quota.day).
		SetReservedTokens(quota.total).
		SetPromptTokens(quota.promptTokens).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		Save(ctx)
	return st, quota, err
}

// reopen moves a finished story st back to PENDING, leased to this replica,
// with tokens reserved for maxTokens more, in one statement that holds only
// while st is as it was read: finished, unleased, its text as long. Its
// text, token counts and start stay as they are.
func (s *Service) reopen(ctx context.Context, tx *ent.Tx, st *ent.Story, p *ent.Prompt, maxTokens int) (*ent.Story, *reservation, error) {
	// The model reads the story so far as well as the prompt.
	quota, err := s.reserve(ctx, tx, p.UserID, p.Content+st.Text, maxTokens)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	n, err := tx.Story.Update().
		Where(
			entstory.ID(st.ID),
			entstory.StatusEQ(st.Status),
			entstory.LeaseOwnerIsNil(),
			entstory.TextLength(st.TextLength),
		).
		SetStatus(entstory.StatusPending).
		ClearError().
		ClearFinishedAt().
		SetTraceID(telemetry.TraceIDFromContext(ctx)).
		SetLeaseOwner(s.cfg.Owner).
		SetLeaseExpiresAt(now.Add(s.cfg.LeaseDuration)).
		SetUsageDay(quota.day).
		SetReservedTokens(quota.total).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, invalid("the story changed meanwhile (it is being continued already?): try again once it has finished")
	}
	st, err = tx.Story.Get(ctx, st.ID)
	if err != nil {
		return nil, nil, err
	}
	return st, quota, nil
}

// Cancel stops a story's generation, keeping its text so far, and returns
// the story as it ended (CANCELLED, or another final status if it finished
// first). Cancelling a finished story is ErrFinished.
func (s *Service) Cancel(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	st, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if isTerminal(st.Status) {
		return nil, fmt.Errorf("%w (%s)", ErrFinished, st.Status)
	}
	s.mu.Lock()
	r := s.runs[id]
	s.mu.Unlock()
	if r != nil {
		r.cancel(errCancelled)
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return s.get(ctx, id)
	}
	// Another replica generates it: mark it CANCELLED; the owner notices at
	// its next write, stores its last text and publishes the end.
	n, err := s.client.Story.Update().
		Where(entstory.ID(id), entstory.StatusIn(entstory.StatusPending, entstory.StatusGenerating)).
		SetStatus(entstory.StatusCancelled).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return s.Cancel(ctx, id) // it ended meanwhile: report how
	}
	return s.waitReleased(ctx, id)
}

// waitReleased waits (briefly) for the owner of a story to store its final
// text and give up the lease, then returns the story.
func (s *Service) waitReleased(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	deadline := time.Now().Add(s.cfg.LeaseDuration)
	for {
		st, err := s.get(ctx, id)
		if err != nil || st.LeaseOwner == nil || time.Now().After(deadline) {
			return st, err
		}
		select {
		case <-time.After(s.cfg.FlushInterval):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Service) get(ctx context.Context, id pulid.ID) (*ent.Story, error) {
	if id.Prefix() != pulid.StoryPrefix {
		return nil, fmt.Errorf("story %w", ErrNotFound)
	}
	st, err := s.client.Story.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("story %w", ErrNotFound)
	}
	return st, err
}

// Subscribe streams a story: the first event holds the text so far, later
// ones what follows, the last one a final status; then the channel closes.
// It also closes when ctx is done.
func (s *Service) Subscribe(ctx context.Context, id pulid.ID) (<-chan *Event, error) {
	return s.subscribe(ctx, id, "")
}

// Resume streams a story after cursor, the Cursor of an event a client
// received: the first event holds only what followed it. A cursor that is
// malformed or of another story is ErrInvalidInput.
func (s *Service) Resume(ctx context.Context, id pulid.ID, cursor string) (<-chan *Event, error) {
	return s.subscribe(ctx, id, cursor)
}

func (s *Service) subscribe(ctx context.Context, id pulid.ID, cursor string) (<-chan *Event, error) {
	st, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	text, err := s.Text(ctx, st)
	if err != nil {
		return nil, err
	}
	from := 0
	if cursor != "" {
		if from, err = decodeCursor(id, cursor); err != nil {
			return nil, err
		}
		// The stored text may trail a running story's (a cursor from the
		// generating replica's copy); a finished story's is all of it.
		if from > len(text) && isTerminal(st.Status) || from < len(text) && !utf8.RuneStart(text[from]) {
			return nil, invalid("after is not a position in this story")
		}
	}
	if isTerminal(st.Status) {
		out := make(chan *Event, 1)
		out <- &Event{StoryID: id, Seq: 1, Delta: text[from:], Status: st.Status, TokenCount: st.TokenCount, Error: st.Error, End: len(text)}
		close(out)
		return out, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrShuttingDown
	}
	if r := s.runs[id]; r != nil {
		return r.view.fan.join(ctx, from, func() {}), nil
	}
	rm := s.remotes[id]
	if rm == nil || isTerminal(rm.view.snapshot().status) {
		// A follower that saw the story end, while its last subscribers
		// leave, knows nothing of a continuation: follow it anew.
		rm = s.follow(st, text)
	}
	rm.refs++
	return rm.view.fan.join(ctx, from, func() { s.release(rm) }), nil
}

// DeletePrompt stops the generations of a prompt's stories on this replica
// and deletes the prompt with its stories.
func (s *Service) DeletePrompt(ctx context.Context, id pulid.ID) error {
	if id.Prefix() != pulid.PromptPrefix {
		return fmt.Errorf("prompt %w", ErrNotFound)
	}
	// Only the caller's own prompt: another's is not found, and its
	// stories go on.
	if ok, err := s.client.Prompt.Query().Where(prompt.ID(id)).Exist(ctx); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("prompt %w", ErrNotFound)
	}
	s.mu.Lock()
	var doomed []*run
	for _, r := range s.runs {
		if r.story.PromptID == id {
			doomed = append(doomed, r)
		}
	}
	s.mu.Unlock()
	for _, r := range doomed {
		r.cancel(errCancelled)
		<-r.done
	}
	err := s.client.Prompt.DeleteOneID(id).Exec(ctx)
	if ent.IsNotFound(err) {
		return fmt.Errorf("prompt %w", ErrNotFound)
	}
	return err
}

// Run sweeps the stories whose replica is gone every SweepInterval, and on
// Postgres holds this replica's presence lock, until ctx is done.
func (s *Service) Run(ctx context.Context) {
	if s.presence() {
		present := make(chan struct{})
		go func() { defer close(present); s.holdPresence(ctx) }()
		defer func() { <-present }()
	}
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweeping expired leases failed", telemetry.Error(err))
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Shutdown stops new generations and waits for the running ones to finish
// until ctx is done; those still running then are ended as interrupted, with
// their text stored, and their subscribers get the final event.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() { s.runsDone.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		// Runs still being stored when closing was set appear in s.runs
		// shortly: keep interrupting until every run has ended.
		for done := false; !done; {
			s.mu.Lock()
			for _, r := range s.runs {
				r.cancel(errInterrupted)
			}
			s.mu.Unlock()
			select {
			case <-finished:
				done = true
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Titles asked for as the last runs ended may finish in the time left.
	titled := make(chan struct{})
	go func() { s.titles.Wait(); close(titled) }()
	select {
	case <-titled:
	case <-ctx.Done():
		s.cancelTitles()
		<-titled
	}
	s.cancelTitles()
	s.mu.Lock()
	for _, rm := range s.remotes {
		rm.stop()
	}
	s.mu.Unlock()
	close(s.stopped)
	s.subs.Wait()
	s.cancelBase()
	return nil
}

var (
	errCancelled   = errors.New("cancelled")
	errInterrupted = errors.New("interrupted: the server stopped")
)

type nopObserver struct{}

func (nopObserver) StoryStarted()                       {}
func (nopObserver) StoryFinished(string, time.Duration) {}
func (nopObserver) TokensStreamed(int)                  {}
func (nopObserver) FirstToken(time.Duration)            {}
func (nopObserver) StoriesWritten(int, time.Duration)   {}
