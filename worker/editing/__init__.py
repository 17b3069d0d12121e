"""Video editing's image maths, Django-free: masks, joins, control tracks and mask tracking."""
