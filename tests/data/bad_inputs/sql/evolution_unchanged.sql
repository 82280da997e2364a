-- sage_evolution: the demo company as seeded (the case changes a setting, not the data).
UPDATE StkItem SET ucIIS2SActive = ucIIS2SActive WHERE 1 = 0;
