package deadletter_test

import (
	"testing"

	"gongdan/pipeline/deadletter"
	"gongdan/pipeline/deadletter/deadlettertest"
)

func TestMemoryContract(t *testing.T) {
	deadlettertest.Run(t, func(*testing.T) deadletter.Store { return deadletter.NewMemory() })
}
