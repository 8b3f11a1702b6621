"""Update middlewares, outermost first (bot/app.py registers them in this order):

errors → throttling → database session → opening (de-duplication and user, one round
trip) → locale → handler.

Error capture is outermost so that it also sees failures of the layers below it (a database
that went away, a user row that cannot be written). De-duplication runs inside the update's
transaction: the "handled" mark commits with the update's changes, so an update whose
handling failed and rolled back is not marked (docs/decisions.md). It shares its statement
with the user's resolution: both are on every update's path, one round trip is half the cost.
"""
