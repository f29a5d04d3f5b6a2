"""The training plan as pure rules: the plan file's models, the planner, the questions a person is
asked, red flags, records and progress. Imports nothing else from controller."""
