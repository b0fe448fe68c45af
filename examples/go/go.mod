module quickstart

go 1.18

require mba v0.0.0

replace mba => ../../bindings/go
