"""One module per page; each `layout` is a function so data is read per request."""
