/** The error `action` throws; fails the test when it returns normally. */
export function thrown(action: () => unknown): unknown {
    try {
        action();
    } catch (error) {
        return error;
    }
    throw new Error("expected the action to throw");
}
