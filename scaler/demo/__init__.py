"""`make demo`: the controller end to end on an embedded local stack, replaying a real trace."""
