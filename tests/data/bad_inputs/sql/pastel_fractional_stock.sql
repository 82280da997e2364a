-- sage_pastel_partner: an item sold by the metre has a fractional stock level in the main store.
UPDATE MultiStoreTrn SET ActualQty = 12.5 WHERE RTRIM(ItemCode) = 'PVC-ELB-20' AND RTRIM(StoreCode) = '001';
