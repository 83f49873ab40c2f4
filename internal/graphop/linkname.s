// Present so that runall.go may declare tapeMachineRunall without a body:
// the function is gorgonia's, reached through //go:linkname.
