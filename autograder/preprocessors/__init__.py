"""nbconvert/nbgrader preprocessors of the course: one step of a pipeline each."""
