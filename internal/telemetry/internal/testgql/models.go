package testgql

// Book is a book; its author comes from a resolver.
type Book struct {
	ID    string
	Title string
}

// Author is the author of a book.
type Author struct {
	Name string
}
