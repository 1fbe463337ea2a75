package sqlite

// EventsQuery is the statement Events sends, for the plan test.
var EventsQuery = eventsQuery
