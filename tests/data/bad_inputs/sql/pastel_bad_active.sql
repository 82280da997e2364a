-- sage_pastel_partner: the demo company, with an item's Ignore/Active/Delete flag set to 'Yes'.
UPDATE Inventory SET UserDefText01 = 'Yes' WHERE RTRIM(ItemCode) = 'DRILL-BIT-SET';
