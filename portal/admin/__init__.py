"""Administration of one ministry by its administrators: agents, rooms, policy, usage, audit."""
