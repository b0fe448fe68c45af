module mba

go 1.18
