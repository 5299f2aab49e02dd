"""HTTP schemas of counselling's API, one module per room: XCreate, XRead, XUpdate, XPage."""
