-- sage_evolution: the demo company, with the publish UDF of one item set to a word the preset does not know.
UPDATE StkItem SET ucIIS2SActive = 'Publish' WHERE StockLink = 1201;
